package store

import (
	"context"
	"database/sql"
	"strings"
)

// rowsPerInsert is how many rows one multi-row INSERT writes, for the
// tables written a row per callback: a statement per row cost more than
// the row it wrote.
const rowsPerInsert = 8

// multiRow turns a one-row INSERT ... VALUES (...) [ON CONFLICT ...] into
// one of n rows.
func multiRow(one string, n int) string {
	at := strings.LastIndex(one, "VALUES ") + len("VALUES ")
	end := at + strings.Index(one[at:], ")") + 1
	return one[:end] + strings.Repeat(", "+one[at:end], n-1) + one[end:]
}

// multiRows are the multi-row forms of the INSERTs execRows runs, made
// once rather than at every commit.
var multiRows = map[string]string{
	qInsertEvent:    multiRow(qInsertEvent, rowsPerInsert),
	qInsertEventID:  multiRow(qInsertEventID, rowsPerInsert),
	qInsertDecision: multiRow(qInsertDecision, rowsPerInsert),
	qInsertMerging:  multiRow(qInsertMerging, rowsPerInsert),
	qUpsertWindow:   multiRow(qUpsertWindow, rowsPerInsert),
}

// execRows runs the one-row INSERT one (a key of multiRows) over rows 0 to
// count-1, with its multi-row form while rowsPerInsert rows are left, then
// row by row. args
// appends row i's arguments to dst. done, if not nil, learns each
// statement's first row, its row count and the rowid of its last row: a
// new row's id is one more than the largest, so the rows of one
// statement have consecutive ids.
func (s *Store) execRows(ctx context.Context, tx *sql.Tx, one string, count int,
	args func(dst []any, i int) []any, done func(first, n int, last int64)) error {
	var many, single *sql.Stmt // bound to tx when first needed
	buf := make([]any, 0, 5*rowsPerInsert)
	for first := 0; first < count; {
		n, stmt, query := rowsPerInsert, &many, multiRows[one]
		if count-first < rowsPerInsert {
			n, stmt, query = 1, &single, one
		}
		if *stmt == nil {
			var err error
			if *stmt, err = s.txStmt(ctx, tx, query); err != nil {
				return err
			}
		}
		buf = buf[:0]
		for i := first; i < first+n; i++ {
			buf = args(buf, i)
		}
		res, err := (*stmt).ExecContext(ctx, buf...)
		if err != nil {
			return err
		}
		if done != nil {
			last, err := res.LastInsertId()
			if err != nil {
				return err
			}
			done(first, n, last)
		}
		first += n
	}
	return nil
}
