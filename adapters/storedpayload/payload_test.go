package storedpayload

import (
	"bytes"
	stdflate "compress/flate"
	"testing"
)

// updatePayload is a PassUpdateScheduled of the retention bench: the most common payload.
const updatePayload = `{"journeyId":"journey-1","activityId":"activity-1","activityInstanceId":"","definitionInstanceId":"entry-00000007","contactKey":"contact-000007","fields":{"offer":"10% off this week","points":"7"},"message":"","revision":2,"passType":"loyalty","data":{"offer":"10% off this week","points":"7","tier":"silver"}}`

func TestEncode_givesBackTheSameBytesAndTakesUnderHalf(t *testing.T) {
	for _, p := range []string{updatePayload, `{"name":"Café \u00e9t\u00e9 ☕", "spaced" : [1, 2,	3]}`, `{}`, ``} {
		stored, err := Encode([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(stored)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != p {
			t.Errorf("Decode(Encode(%s)) = %s", p, got)
		}
	}
	stored, err := Encode([]byte(updatePayload))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored)*2 > len(updatePayload) {
		t.Errorf("an update is stored in %d bytes, its JSON has %d: want under half", len(stored), len(updatePayload))
	}
}

// Rows written before this package, by the audit log with the standard library's deflate, read the same.
func TestDecode_readsWhatTheStandardLibraryDeflated(t *testing.T) {
	var b bytes.Buffer
	b.WriteByte(Deflated)
	w, err := stdflate.NewWriterDict(&b, stdflate.DefaultCompression, []byte(dictionaryText))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(updatePayload)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b.Bytes())
	if err != nil || string(got) != updatePayload {
		t.Fatalf("Decode = %s, %v; want %s", got, err, updatePayload)
	}
}

// A payload stored as JSON text, as rows written before compression hold it, reads as itself.
func TestDecode_readsJSONAsItIs(t *testing.T) {
	got, err := Decode([]byte(`{"a":1}`))
	if err != nil || string(got) != `{"a":1}` {
		t.Fatalf("Decode = %s, %v", got, err)
	}
}

func TestDecode_failsOnACorruptPayload(t *testing.T) {
	if _, err := Decode([]byte{Deflated, 0xff, 0xff, 0xff}); err == nil {
		t.Fatal("a corrupt payload decoded without an error")
	}
}

// BenchmarkEncode is the cost of storing a payload, per event: the event store's append and the audit log's
// projection each pay it once.
func BenchmarkEncode(b *testing.B) {
	payload := []byte(updatePayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode is the cost of reading a payload back, per event read: a stream's load, a projection, the feed.
func BenchmarkDecode(b *testing.B) {
	stored, err := Encode([]byte(updatePayload))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(stored); err != nil {
			b.Fatal(err)
		}
	}
}
