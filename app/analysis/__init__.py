"""The pure analytical core: plain values in, plain values out; no database, web or clock.

stats        sufficient statistics (n, sum, sum of squares), Welch's test, Holm
cells        cells (team or place, whole or segment) and the profiles they sum
disclosure   which cells may be published (DESIGN section 3): atoms, the exact audit and
             its split by team, the decision, the layout of a place, revision rules
signs        warning signs: one function per rule, the rulebook of their settings, and
             warning_signs(snapshot, rulebook) -> flags; snapshot holds the plain data
published    the cells a snapshot's rules may read: one decision per place and distinct counts
"""
