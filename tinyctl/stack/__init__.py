"""Bringing a project's stack up and reporting on it: up, status, health, pre-flight, doctor."""
