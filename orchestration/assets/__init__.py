"""Assets by domain: ingestion, mrr, metrics, sales, serving. Definitions loads every module here."""
