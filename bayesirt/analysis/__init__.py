"""bayesirt.analysis"""
