"""The district medical insurance bureau (医疗保障局): JSON over HTTP behind OAuth2.

The district names its bureau in ``[agencies.medical]``; the sandbox imitates Zhangdian's.
"""
