"""Trade-off analyses on a built model: re-solved in place, never rebuilt where a bound will do.

``resolve`` holds one warm HiGHS copy of the model; ``prices`` (what each rule costs), ``margins``
(duals with the selection fixed), ``explain`` (why a country is in or out), ``frontier`` (sweeps of
a scenario key) and ``alternatives`` (near-optimal, different focus-country sets) use it.
"""
