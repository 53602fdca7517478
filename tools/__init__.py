"""Dev and ops tooling: never shipped in the image, never imported by the service itself."""
