"""The small core every domain may import: number types, SQL text, files written atomically, the formats of
money and percentages and the palette. It imports no domain."""
