package discovery

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzAnswerTTL feeds answerTTL untrusted responses: it must never panic,
// and whenever the whole message parses, it must agree with a reading of
// the parsed message (and succeed exactly when the message is a complete,
// successful answer to the question).
func FuzzAnswerTTL(f *testing.F) {
	pack := func(m dnsmessage.Message) []byte {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	q := func(t dnsmessage.Type) []dnsmessage.Question {
		return []dnsmessage.Question{{Name: name(srvName), Type: t, Class: dnsmessage.ClassINET}}
	}
	h := dnsmessage.Header{ID: 0x1234, Response: true, RecursionDesired: true}
	var srvs []dnsmessage.Resource
	for i := range 50 {
		srvs = append(srvs, srvRR(srvName, uint32(60-i%7), 10, 10, 8080, "backend.orders.elb.test."))
	}
	f.Add(byte(0), pack(dnsmessage.Message{Header: h, Questions: q(dnsmessage.TypeSRV), Answers: srvs}))
	f.Add(byte(1), pack(dnsmessage.Message{Header: h, Questions: q(dnsmessage.TypeA), Answers: []dnsmessage.Resource{
		cnameRR(srvName, 4, "real.elb.test."), addrRR("real.elb.test.", 60, "10.0.0.1"), addrRR("real.elb.test.", 30, "10.0.0.2"),
	}}))
	f.Add(byte(2), pack(dnsmessage.Message{Header: h, Questions: q(dnsmessage.TypeAAAA), Answers: []dnsmessage.Resource{
		addrRR(srvName, 9, "2001:db8::1"),
	}}))
	tc := h
	tc.Truncated = true
	f.Add(byte(0), pack(dnsmessage.Message{Header: tc, Questions: q(dnsmessage.TypeSRV)}))
	nx := h
	nx.RCode = dnsmessage.RCodeNameError
	f.Add(byte(1), pack(dnsmessage.Message{Header: nx, Questions: q(dnsmessage.TypeA)}))
	f.Add(byte(0), pack(dnsmessage.Message{Header: h, Questions: q(dnsmessage.TypeA)})) // another question
	f.Add(byte(0), []byte{0x12, 0x34, 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c})     // a looping pointer
	f.Add(byte(0), []byte{})

	types := []dnsmessage.Type{dnsmessage.TypeSRV, dnsmessage.TypeA, dnsmessage.TypeAAAA}
	f.Fuzz(func(t *testing.T, which byte, resp []byte) {
		question := dnsmessage.Question{Name: name(srvName), Type: types[int(which)%len(types)], Class: dnsmessage.ClassINET}
		var id uint16
		if len(resp) >= 2 {
			id = binary.BigEndian.Uint16(resp) // reach past the ID check
		}
		least, found, err := answerTTL(resp, question, id)
		if err != nil && (least != 0 || found) {
			t.Fatalf("error %v with TTL %d, found %v", err, least, found)
		}
		var m dnsmessage.Message
		if m.Unpack(resp) != nil {
			return
		}
		if err == nil {
			agrees(t, m, question, least, found)
		}
		// The parsed message packed again is well formed throughout:
		// answerTTL takes it exactly when it is a complete answer.
		canon, perr := m.Pack()
		if perr != nil {
			return
		}
		least, found, err = answerTTL(canon, question, m.ID)
		complete := m.Response && !m.Truncated && m.RCode == dnsmessage.RCodeSuccess &&
			len(m.Questions) == 1 && m.Questions[0].Type == question.Type && m.Questions[0].Class == question.Class &&
			strings.EqualFold(m.Questions[0].Name.String(), question.Name.String())
		if complete != (err == nil) {
			t.Fatalf("complete answer %v, error %v", complete, err)
		}
		if err == nil {
			agrees(t, m, question, least, found)
		}
	})
}

// agrees fails t unless least and found are what m's answers say: the
// smallest TTL of its answers of question's type and of CNAMEs, and
// whether it has answers of question's type; and m is a complete answer.
func agrees(t *testing.T, m dnsmessage.Message, question dnsmessage.Question, least uint32, found bool) {
	t.Helper()
	if !m.Response || m.Truncated || m.RCode != dnsmessage.RCodeSuccess || len(m.Questions) != 1 {
		t.Fatalf("taken: response %v, truncated %v, %v, %d questions", m.Response, m.Truncated, m.RCode, len(m.Questions))
	}
	var want uint32
	counted, wantFound := false, false
	for _, rr := range m.Answers {
		if rr.Header.Class != question.Class || (rr.Header.Type != question.Type && rr.Header.Type != dnsmessage.TypeCNAME) {
			continue
		}
		if !counted || rr.Header.TTL < want {
			counted, want = true, rr.Header.TTL
		}
		wantFound = wantFound || rr.Header.Type == question.Type
	}
	if least != want || found != wantFound {
		t.Fatalf("TTL %d, found %v; the parsed message says %d, %v", least, found, want, wantFound)
	}
}
