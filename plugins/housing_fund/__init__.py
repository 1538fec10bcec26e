"""The housing provident fund centre (住房公积金管理中心): its legacy GBK form interface.

The district names its centre in ``[agencies.housing_fund]``; the sandbox imitates Zhangdian's sub-centre.
"""
