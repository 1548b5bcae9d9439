"""The vendor contracts (OpenAPI documents) and the discrepancy register, shipped as package data."""
