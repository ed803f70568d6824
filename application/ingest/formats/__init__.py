"""One module per family of file formats; ``application.ingest.parsers`` maps extensions to them.

``base`` holds the contract they share (Section, ParsedDocument, ParseLimits, DocumentError) and the
helpers more than one format needs. Each module imports its third-party reader inside the parser
function, so importing this package stays cheap (the CLI's ``--help`` must be fast).
"""
