"""The district tax bureau (税务局): JSON over HTTP, HMAC-signed.

The district names its bureau in ``[agencies.tax]``; the sandbox imitates Zhangdian's.
"""
