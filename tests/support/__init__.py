"""What test modules import (helpers, test data builders, constants). Fixtures live in the
``conftest.py`` files, which import from here too."""
