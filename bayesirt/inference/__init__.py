"""bayesirt.inference"""
