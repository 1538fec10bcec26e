"""Housing provident fund (淄博市住房公积金管理中心张店分中心): legacy GBK form interface."""
