-- Nothing stored changed going up (see up.sql), so nothing changes going
-- down.
SELECT 1;
