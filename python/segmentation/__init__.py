"""Customer segmentation warehouse: DuckDB SQL models, K-Means in Python, marts and reports."""
