"""Real-estate registration (不动产登记中心): JSON API with long-running cases.

The district names its centre in ``[agencies.property]``; the sandbox imitates Zhangdian's.
"""
