-- #16 finding 3, on real sockets: a journal bomb (one 26-octet RTP packet
-- whose 13-octet Chapter M asks for 16,384 Data Increments) made the
-- receiver play every one of them, and a thousand a second stalled the
-- loop. Now what repairs may play is budgeted per packet and per second;
-- the excess is counted (repairs_over_budget), and the real stream stays
-- exact and on time.
local rtpmidi = require "rtpmidi"
local core = require "rtpmidi.core"
local H = require "helper"

local control = rtpmidi.RTPControl()

-- The bomb's journal (csrc/test/test_journal_rfc.c, test_journal_bomb):
-- channel 1, Chapter M, one NRPN log with an A-BUTTON count of 16,383.
local BOMB_JOURNAL = "\x20\x00\x00\x00\x0A\x20\x30\x07\x00\x00\x22\x3F\xFF"

local function rtp(seq, ts, ssrc, payload)
  return string.pack(">BBI2I4I4", 0x80, 97, seq & 0xffff, ts & 0xffffffff, ssrc) .. payload
end

describe("the journal bomb (#16 finding 3)", function()
  after_each(H.assert_clean)

  it("plays at most the budget, counts the rest, and the real stream stays exact", function()
    local pa, pb = H.port(), H.port()
    local real, recovered = {}, 0
    local a = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pb, receiving_port = pa,
                                   start_sequence = 1000 }
    local b = rtpmidi.MidiSession{ peer_address = "127.0.0.1", sending_port = pa, receiving_port = pb,
      jitter_buffer_size = 0,
      incoming_midi = function(_, m, _, rec)
        if rec then recovered = recovered + 1 else real[#real + 1] = m end
      end }
    control:add_session(a)
    control:add_session(b)
    assert(control:start())
    assert(a:send_midi("\xb0\x07\x64"))
    H.run_until(function() return #real == 1 end, "the first real message")
    local ssrc = a:stats().ssrc
    local forger = assert(core.udp("127.0.0.1", 0)) -- the peer's IP, as a LAN attacker forges it
    -- 200 bombs, each one sequence number past a gap (so that B reads its
    -- journal), two each millisecond: a sustained flood
    local seq, sent = (1000 + a:stats().packets_sent) & 0xffff, 0
    local t0 = rtpmidi.now()
    local flood = rtpmidi.every(1, function(t)
      for _ = 1, 2 do
        if sent == 200 then t:cancel() return end
        seq = (seq + 2) & 0xffff
        sent = sent + 1
        assert(forger:send(rtp(seq, sent * 10, ssrc, "\x40" .. BOMB_JOURNAL), "127.0.0.1", pb))
      end
    end)
    H.run_until(function() return sent == 200 end, "the flood", 10000)
    flood:cancel()
    H.run_for(50)
    local elapsed_s = (rtpmidi.now() - t0) / 1000
    forger:close()
    local st = b:stats()
    -- what the bombs asked for (16,383 increments each, beyond the
    -- selection) was mostly refused: the budget is 4,096 a packet and a
    -- burst of 8,192 plus 4,096 a second (journal.h)
    assert.is_true(st.repairs_over_budget > 100 * 16383, "over budget: " .. st.repairs_over_budget)
    assert.is_true(recovered <= 8192 + 4096 * (elapsed_s + 1), ("played %d in %.2f s"):format(recovered, elapsed_s))
    io.stderr:write(("\n  [journal bomb] 200 bombs in %.2f s: %d repair messages played, %d counted over budget")
      :format(elapsed_s, recovered, st.repairs_over_budget))
    -- the real stream: a message after the flood arrives, exact
    assert(a:send_midi("\xb0\x07\x20"))
    H.run_until(function() return real[#real] == "\xb0\x07\x20" end, "a real message after the flood", 5000)
    control:remove_session(a.cookie)
    control:remove_session(b.cookie)
  end)
end)
