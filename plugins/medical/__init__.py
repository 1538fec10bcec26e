"""The district medical insurance bureau (淄博市张店区医疗保障局): JSON over HTTP behind OAuth2."""
