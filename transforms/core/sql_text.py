"""Text spliced into SQL: a string literal or an identifier, quoted so that any text stays itself."""


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
