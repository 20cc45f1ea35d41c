import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
# jsonschema's optional IRI checker builds a grammar at import (~11 s); notebooks never need it
sys.modules.setdefault("rfc3987_syntax", None)
