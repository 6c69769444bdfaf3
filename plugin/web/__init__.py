"""The web edge shared by every blueprint: request ids and request logging, security
headers, typed errors turned into JSON problem bodies or OperationOutcomes, and the
blueprint registry."""
