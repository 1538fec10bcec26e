"""The district HRSS bureau (淄博市张店区人力资源和社会保障局): SOAP 1.1 with WS-Security."""
