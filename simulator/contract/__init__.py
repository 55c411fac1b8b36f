"""What the contract files say: validation of payloads (``validation``), the comparison with the
vendor's OpenAPI document (``diff``) against the declared deviations (``deviations``), and the line
of a JSON path in a YAML file (``yamlnodes``)."""
