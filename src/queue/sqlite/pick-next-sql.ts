// The lease selection query: among ready tasks (waiting and due, or leased with an expired
// lease) take the highest priority, then the tenant served least recently, then the oldest task.

/**
 * Parameters: `:now` (ms), `:caps` (JSON object tenant → cap), `:defaultCap` (number or NULL).
 * A task whose session already has a live lease is skipped (one worker per session), and a
 * tenant at its concurrency cap is skipped. Returns at most one row: id, session_id, tenant_id.
 */
export const PICK_NEXT_SQL = `
  WITH active AS (
    SELECT tenant_id, COUNT(*) AS n
      FROM queue_tasks
     WHERE status = 'leased' AND lease_until > :now
     GROUP BY tenant_id
  ),
  ready AS (
    SELECT t.id, t.session_id, t.tenant_id, t.priority, t.seq,
           ROW_NUMBER() OVER (PARTITION BY t.tenant_id ORDER BY t.priority DESC, t.seq ASC) AS rn
      FROM queue_tasks t
     WHERE ((t.status = 'waiting' AND t.available_at <= :now)
            OR (t.status = 'leased' AND t.lease_until <= :now))
       AND NOT EXISTS (
             SELECT 1 FROM queue_tasks o
              WHERE o.session_id = t.session_id AND o.id <> t.id
                AND o.status = 'leased' AND o.lease_until > :now)
  )
  SELECT r.id, r.session_id, r.tenant_id
    FROM ready r
    LEFT JOIN queue_tenants s ON s.tenant_id = r.tenant_id
    LEFT JOIN active a ON a.tenant_id = r.tenant_id
    LEFT JOIN json_each(:caps) c ON c.key = r.tenant_id
   WHERE r.rn = 1
     AND (COALESCE(c.value, :defaultCap) IS NULL
          OR COALESCE(a.n, 0) < COALESCE(c.value, :defaultCap))
   ORDER BY r.priority DESC, COALESCE(s.last_served, 0) ASC, r.seq ASC
   LIMIT 1
`;
