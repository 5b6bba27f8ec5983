-- Many-to-many directed travel seconds between road nodes of one town (pgRouting conventions).
SELECT start_vid, end_vid, agg_cost
FROM pgr_dijkstraCost(
    format(
        'SELECT id, source, target, cost_s AS cost, reverse_cost_s AS reverse_cost '
        'FROM roads WHERE town_code = %L',
        CAST(:town AS text)
    ),
    CAST(:sources AS bigint[]),
    CAST(:targets AS bigint[]),
    directed => true
)
