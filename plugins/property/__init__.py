"""Real-estate registration (淄博市张店区不动产登记中心): JSON API with long-running cases."""
