"""The district tax bureau (国家税务总局淄博市张店区税务局): JSON over HTTP, HMAC-signed."""
