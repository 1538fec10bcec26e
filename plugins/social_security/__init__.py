"""The district HRSS bureau (人力资源和社会保障局): SOAP 1.1 with WS-Security.

The district names its bureau in ``[agencies.social_security]``; the sandbox imitates Zhangdian's.
"""
