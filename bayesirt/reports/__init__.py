"""bayesirt.reports"""
