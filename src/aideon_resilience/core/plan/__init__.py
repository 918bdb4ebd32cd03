"""The capacity plan: what a number of users needs of each service and of the cluster, the bounds
an overlay declares, and the rehearsal's load modelled from the same figures."""
