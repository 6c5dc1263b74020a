"""Neutron radiography: normalisation, outliers, differential attenuation and transport metrics."""
