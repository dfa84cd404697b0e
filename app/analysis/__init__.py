"""The pure analytical core: plain values in, plain values out; no database, web or clock.

stats        sufficient statistics (n, sum, sum of squares), Welch's test, Holm
cells        cells (team or place, whole or segment) and the profiles they sum
disclosure   which cells may be published (DESIGN section 3); audit checks it exactly
rules        one small function per warning-sign rule; rulebook holds their settings
engine       warning_signs(snapshot, rulebook) -> flags; snapshot holds the plain data
"""
