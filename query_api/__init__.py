"""Query API: FingerprintJS Server API (v3) compatible visit history over ClickHouse."""
