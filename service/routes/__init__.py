"""One router per resource: quotes, outcomes, models, admin, health, pages."""
