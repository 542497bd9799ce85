import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseProcNetStat,
  parseKernelCounters,
  diffCounters,
  parseProcNetTcp,
  countTimeWaitIn,
  parseSockstat,
  parseFdLimit,
  parseEphemeralPortRange,
  readKernelCounters,
  countTimeWait,
  readFdLimit,
  readEphemeralPortRange,
  readSockstat,
  TCP_STATE_LISTEN,
} from '../../src/core/kernel-counters.js';

// Captured on the project machine (kernel 6.18): the TcpExt pair of /proc/net/netstat and all of /proc/net/snmp.
// Inline rather than fixture files: the compiled suite runs from dist/, where tsc copies no .txt files.
const CAPTURED_NETSTAT = `TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts TCPLossProbes TCPLossProbeRecovery TCPRenoRecoveryFail TCPSackRecoveryFail TCPRcvCollapsed TCPBacklogCoalesce TCPDSACKOldSent TCPDSACKOfoSent TCPDSACKRecv TCPDSACKOfoRecv TCPAbortOnData TCPAbortOnClose TCPAbortOnMemory TCPAbortOnTimeout TCPAbortOnLinger TCPAbortFailed TCPMemoryPressures TCPMemoryPressuresChrono TCPSACKDiscard TCPDSACKIgnoredOld TCPDSACKIgnoredNoUndo TCPSpuriousRTOs TCPMD5NotFound TCPMD5Unexpected TCPMD5Failure TCPSackShifted TCPSackMerged TCPSackShiftFallback TCPBacklogDrop PFMemallocDrop TCPMinTTLDrop TCPDeferAcceptDrop IPReversePathFilter TCPTimeWaitOverflow TCPReqQFullDoCookies TCPReqQFullDrop TCPRetransFail TCPRcvCoalesce TCPOFOQueue TCPOFODrop TCPOFOMerge TCPChallengeACK TCPSYNChallenge TCPFastOpenActive TCPFastOpenActiveFail TCPFastOpenPassive TCPFastOpenPassiveFail TCPFastOpenListenOverflow TCPFastOpenCookieReqd TCPFastOpenBlackhole TCPSpuriousRtxHostQueues BusyPollRxPackets TCPAutoCorking TCPFromZeroWindowAdv TCPToZeroWindowAdv TCPWantZeroWindowAdv TCPSynRetrans TCPOrigDataSent TCPHystartTrainDetect TCPHystartTrainCwnd TCPHystartDelayDetect TCPHystartDelayCwnd TCPACKSkippedSynRecv TCPACKSkippedPAWS TCPACKSkippedSeq TCPACKSkippedFinWait2 TCPACKSkippedTimeWait TCPACKSkippedChallenge TCPWinProbe TCPKeepAlive TCPMTUPFail TCPMTUPSuccess TCPDelivered TCPDeliveredCE TCPAckCompressed TCPZeroWindowDrop TCPRcvQDrop TCPWqueueTooBig TCPFastOpenPassiveAltKey TcpTimeoutRehash TcpDuplicateDataRehash TCPDSACKRecvSegs TCPDSACKIgnoredDubious TCPMigrateReqSuccess TCPMigrateReqFailure TCPPLBRehash TCPAORequired TCPAOBad TCPAOKeyNotFound TCPAOGood TCPAODroppedIcmps
TcpExt: 0 0 0 0 0 0 0 0 0 0 13 0 0 0 0 0 0 0 0 16 0 39 0 0 35 121 106 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 2 0 0 0 0 0 153 39 0 0 0 91 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 3855 1 0 0 0 0 0 0 0 0 0 0 0 2 0 0 310 310 29 0 786 0 0 0 0 0 0 0 0 0 0 0 11 0 0 889 0 0 0 0 0 0 2 0 0 0 0 0 0 0 0 0 0 0
`;
const CAPTURED_SNMP = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 6025 0 0 0 0 0 6025 4337 0 0 0 0 0 0 0 0 0 4337
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 1 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
IcmpMsg: InType3
IcmpMsg: 1
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 105 5 0 1 0 5948 4261 0 0 181 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 76 0 0 77 0 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;

const NETSTAT = `TcpExt: SyncookiesSent DelayedACKs ListenOverflows ListenDrops TCPSynRetrans
TcpExt: 0 16 3 4 53
IpExt: InNoRoutes InOctets
IpExt: 0 119909672
`;
const SNMP = `Ip: Forwarding DefaultTTL
Ip: 2 64
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 104 5 0 1 0 3978 3074 7 0 181 0
`;

test('parseProcNetStat pairs header and value lines per prefix', () => {
  const p = parseProcNetStat(NETSTAT);
  assert.equal(p['TcpExt']!['DelayedACKs'], 16);
  assert.equal(p['IpExt']!['InOctets'], 119909672);
});

test('parseProcNetStat skips a line that does not pair up instead of misaligning the rest', () => {
  const p = parseProcNetStat(`garbage line\n${NETSTAT}`);
  assert.equal(p['TcpExt']!['ListenOverflows'], 3);
  assert.equal(p['IpExt']!['InNoRoutes'], 0);
});

test('parseKernelCounters picks TcpExt and Tcp counters by name, including negative MaxConn neighbours', () => {
  const c = parseKernelCounters(NETSTAT, SNMP);
  assert.equal(c.DelayedACKs, 16);
  assert.equal(c.ListenOverflows, 3);
  assert.equal(c.ListenDrops, 4);
  assert.equal(c.TCPSynRetrans, 53);
  assert.equal(c.ActiveOpens, 104);
  assert.equal(c.RetransSegs, 7);
  assert.equal(c.OutRsts, 181);
  assert.equal(c.TCPTimeouts, undefined, 'absent in this text, so absent in the snapshot');
});

test('parseKernelCounters reads the real captured /proc files of this kernel', () => {
  const c = parseKernelCounters(CAPTURED_NETSTAT, CAPTURED_SNMP);
  for (const name of ['DelayedACKs', 'ListenOverflows', 'ListenDrops', 'TCPSynRetrans', 'RetransSegs', 'ActiveOpens'] as const) {
    assert.equal(typeof c[name], 'number', name);
  }
});

test('diffCounters subtracts names present in both snapshots only', () => {
  const d = diffCounters({ DelayedACKs: 10, ListenOverflows: 0, TW: 5 }, { DelayedACKs: 210, ListenOverflows: 0 });
  assert.deepEqual(d, { DelayedACKs: 200, ListenOverflows: 0 });
});

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1060 1 0000000052ef64c8 100 0 0 10 0
   1: 0100007F:8F2A 0100007F:07E8 06 00000000:00000000 03:00000F3C 00000000     0        0 0 3 0000000000000000
   2: 0100007F:8F2C 0100007F:07E8 06 00000000:00000000 03:00000F3C 00000000     0        0 0 3 0000000000000000
   3: 0100007F:07E8 0100007F:8F30 06 00000000:00000000 03:00000F3C 00000000     0        0 0 3 0000000000000000
   4: 0100007F:1F90 0100007F:9000 06 00000000:00000000 03:00000F3C 00000000     0        0 0 3 0000000000000000
   5: 0100007F:07E8 0100007F:8F32 01 0000001A:00000002 00:00000000 00000000     0        0 1 1 0000000000000000
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:8F40 00000000000000000000000001000000:07E8 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0000000000000000
`;

test('parseProcNetTcp reads hex ports, state and queues', () => {
  const s = parseProcNetTcp(TCP);
  assert.equal(s.length, 6);
  assert.equal(s[0]!.localPort, 2024);
  assert.equal(s[0]!.state, TCP_STATE_LISTEN);
  assert.equal(s[5]!.txQueue, 26);
  assert.equal(s[5]!.rxQueue, 2);
});

test('countTimeWaitIn counts state 06 over IPv4 and IPv6, optionally for one port at either end', () => {
  assert.equal(countTimeWaitIn([TCP, TCP6]), 5);
  assert.equal(countTimeWaitIn([TCP, TCP6], 2024), 4);
  assert.equal(countTimeWaitIn([TCP], 8080), 1);
  assert.equal(countTimeWaitIn([TCP], 1), 0);
});

test('parseSockstat reads the TCP line including tw', () => {
  const s = parseSockstat('sockets: used 72\nTCP: inuse 3 orphan 0 tw 12 alloc 3 mem 233\nUDP: inuse 0 mem 0\n');
  assert.equal(s.socketsUsed, 72);
  assert.equal(s.tcp.tw, 12);
  assert.equal(s.tcp.mem, 233);
  assert.equal(s.raw['UDP']!['inuse'], 0);
});

test('parseFdLimit reads soft and hard open-file limits, unlimited as Infinity', () => {
  const text = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                20000                files     \n';
  assert.deepEqual(parseFdLimit(text), { soft: 20000, hard: 20000 });
  assert.deepEqual(parseFdLimit('Max open files            1024      unlimited     files\n'), { soft: 1024, hard: Infinity });
  assert.equal(parseFdLimit('nothing here'), undefined);
});

test('parseEphemeralPortRange reads the range and counts the ports', () => {
  assert.deepEqual(parseEphemeralPortRange('32768\t60999\n'), { low: 32768, high: 60999, count: 28232 });
  assert.equal(parseEphemeralPortRange('60999 32768'), undefined);
  assert.equal(parseEphemeralPortRange(''), undefined);
});

test('the readers return values on Linux and undefined elsewhere, never throw', () => {
  const onLinux = process.platform === 'linux';
  const c = readKernelCounters();
  assert.equal(c !== undefined, onLinux);
  if (c) assert.equal(typeof c.DelayedACKs, 'number');
  assert.equal(typeof countTimeWait(), onLinux ? 'number' : 'undefined');
  assert.equal(readFdLimit() !== undefined, onLinux);
  assert.equal(readEphemeralPortRange() !== undefined, onLinux);
  assert.equal(readSockstat() !== undefined, onLinux);
});
