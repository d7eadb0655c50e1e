package userexport

import (
	"bufio"
	"io"
	"strings"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// lineEnd ends every record. RFC 4180 asks for CRLF, and spreadsheets and
// csv readers (Go's encoding/csv included) accept it.
const lineEnd = "\r\n"

// Writer writes the export's CSV: a header row, then one record per member.
// encoding/csv is not used because it quotes only the cells that need it,
// and the documented format encloses every string in double quotes.
type Writer struct {
	w    *bufio.Writer
	cols []Column
}

// NewWriter returns a Writer of mode's columns to w. Output is buffered:
// call Flush at the end.
func NewWriter(w io.Writer, mode deployment.Mode) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 32<<10), cols: Columns(mode)}
}

// WriteHeader writes the header row. Errors of a bufio.Writer stick, so
// the last write of a record reports a failure of any earlier one.
func (w *Writer) WriteHeader() error {
	for i, c := range w.cols {
		w.sep(i)
		w.quoted(string(c))
	}
	_, err := w.w.WriteString(lineEnd)
	return err
}

// WriteRow writes one member's record.
func (w *Writer) WriteRow(r Row) error {
	for i, c := range w.cols {
		w.sep(i)
		text, number := c.cell(r)
		if number {
			w.w.WriteString(text)
		} else {
			w.quoted(text)
		}
	}
	_, err := w.w.WriteString(lineEnd)
	return err
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

func (w *Writer) sep(i int) {
	if i > 0 {
		w.w.WriteByte(',')
	}
}

// quoted writes s between double quotes, doubling the quotes inside it.
// Commas, newlines and carriage returns need nothing more inside quotes.
func (w *Writer) quoted(s string) {
	w.w.WriteByte('"')
	w.w.WriteString(strings.ReplaceAll(s, `"`, `""`))
	w.w.WriteByte('"')
}
