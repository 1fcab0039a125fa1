"""HTTP layer of the service: request validation, authentication, routes."""
