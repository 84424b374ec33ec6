-- The steps of the @journey journeys whose first step (@first_step) falls in [@start, @end), up to @until
-- (journey_events' partitions), correlated by journey_id across sources (GA4 and user_journey records): the
-- input of the journey funnels. A step reported by both sources at the same moment appears once.
WITH started AS (
  SELECT DISTINCT journey_id
  FROM journey_events
  WHERE journey = @journey AND step = @first_step AND timestamp >= @start AND timestamp < @end
)
SELECT DISTINCT j.journey_id, j.step, j.timestamp
FROM journey_events AS j
JOIN started AS s ON s.journey_id = j.journey_id
WHERE j.journey = @journey AND j.timestamp >= @start AND j.timestamp < @until
ORDER BY j.journey_id, j.timestamp, j.step
