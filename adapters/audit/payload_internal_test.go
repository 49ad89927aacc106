package audit

import "testing"

// updatePayload is a PassUpdateScheduled of the retention bench: the most common payload.
const updatePayload = `{"journeyId":"journey-1","activityId":"activity-1","activityInstanceId":"","definitionInstanceId":"entry-00000007","contactKey":"contact-000007","fields":{"offer":"10% off this week","points":"7"},"message":"","revision":2,"passType":"loyalty","data":{"offer":"10% off this week","points":"7","tier":"silver"}}`

// BenchmarkEncodePayload is the projection's cost of storing a payload deflated, per event.
func BenchmarkEncodePayload(b *testing.B) {
	payload := []byte(updatePayload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodePayload(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePayload is the feed's and the export's cost of reading a payload back, per event.
func BenchmarkDecodePayload(b *testing.B) {
	stored, err := encodePayload([]byte(updatePayload))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePayload(stored); err != nil {
			b.Fatal(err)
		}
	}
}
