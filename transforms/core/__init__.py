"""The small core every domain may import: number types, SQL text, files written atomically. It imports no domain."""
