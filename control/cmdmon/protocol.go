package cmdmon

// The protocol of chrony 4.3 (candm.h, pktlength.c): version 6, with
// requests padded so that no reply is longer than its request.
//
// A request is a 20-byte header and the command's data; a reply a 28-byte
// header and the reply's data:
//
//	request                                 reply
//	 0 version  1 pkt_type  2 res1  3 res2   0 version  1 pkt_type  2 res1  3 res2
//	 4 command  6 attempt                    4 command  6 reply
//	 8 sequence                              8 status  10 pad1
//	12 pad1                                 12 pad2    14 pad3
//	16 pad2                                 16 sequence
//	20 data..., then zero padding           20 pad4
//	                                        24 pad5
//	                                        28 data...

const (
	protoVersion = 6 // PROTO_VERSION_NUMBER
	// protoVersionMismatchCompat is the oldest version that is told
	// about the mismatch (PROTO_VERSION_MISMATCH_COMPAT_SERVER); older
	// ones are dropped.
	protoVersionMismatchCompat = 5

	pktTypeRequest = 1
	pktTypeReply   = 2

	requestHeaderLen = 20
	replyHeaderLen   = 28

	// MaxRequestLen is sizeof(CMD_Request): the header, the largest
	// request (ADD_SOURCE, 356 bytes with its end marker) and the
	// largest padding (484). chronyd drops anything longer.
	MaxRequestLen = requestHeaderLen + 356 + 484
	// MaxReplyLen is the longest reply (CLIENT_ACCESSES_BY_INDEX3).
	MaxReplyLen = replyHeaderLen + 492
)

// Request types (REQ_*). Only those ntpbox treats specially are named.
const (
	reqNull                   = 0
	reqBurst                  = 3
	reqLogon                  = 10
	reqNSources               = 14
	reqSourceData             = 15
	reqTracking               = 33
	reqSourceStats            = 34
	reqRTCReport              = 35
	reqManualList             = 41
	reqMakeStep               = 43
	reqActivity               = 44
	reqSmoothing              = 51
	reqServerStats            = 54
	reqNTPData                = 57
	reqNTPSourceName          = 65
	reqClientAccessesByIndex3 = 68

	numRequestTypes = 72 // N_REQUEST_TYPES
)

// Reply types (RPY_*).
const (
	rpyNull                   = 1
	rpyNSources               = 2
	rpySourceData             = 3
	rpyTracking               = 5
	rpySourceStats            = 6
	rpyActivity               = 12
	rpyNTPData                = 16
	rpyManualList2            = 18
	rpyNTPSourceName          = 19
	rpyClientAccessesByIndex3 = 21
	rpyServerStats3           = 24
)

// Status codes (STT_*).
const (
	sttSuccess       = 0
	sttFailed        = 1
	sttUnauth        = 2
	sttInvalid       = 3
	sttNoSuchSource  = 4
	sttNotEnabled    = 6
	sttNoRTC         = 13
	sttInactive      = 15
	sttBadSample     = 16
	sttInvalidAF     = 17
	sttBadPktVersion = 18
	sttBadPktLength  = 19
	sttInvalidName   = 21
)

// requestData is, for each request type, the length of its data (up
// to its EOR field) and of the data of the reply chronyd gives it, from
// the structs of candm.h. A request type chrony 4.3 no longer accepts
// (LOCAL, ADD_SERVER, DOFFSET, ...) has request length -1.
var requestData = [numRequestTypes]struct{ req, rpy int }{
	0:  {0, 0},    // NULL
	1:  {40, 0},   // ONLINE: mask, address
	2:  {40, 0},   // OFFLINE
	3:  {48, 0},   // BURST: mask, address, n_good, n_total
	4:  {24, 0},   // MODIFY_MINPOLL: address, value
	5:  {24, 0},   // MODIFY_MAXPOLL
	6:  {4, 0},    // DUMP
	7:  {24, 0},   // MODIFY_MAXDELAY
	8:  {24, 0},   // MODIFY_MAXDELAYRATIO
	9:  {4, 0},    // MODIFY_MAXUPDATESKEW
	10: {12, 0},   // LOGON: Timespec
	11: {12, 12},  // SETTIME: Timespec; RPY_ManualTimestamp
	12: {-1, 0},   // LOCAL
	13: {4, 0},    // MANUAL
	14: {0, 4},    // N_SOURCES
	15: {4, 48},   // SOURCE_DATA: index; RPY_Source_Data
	16: {0, 0},    // REKEY
	17: {24, 0},   // ALLOW: IPAddr, subnet_bits
	18: {24, 0},   // ALLOWALL
	19: {24, 0},   // DENY
	20: {24, 0},   // DENYALL
	21: {24, 0},   // CMDALLOW
	22: {24, 0},   // CMDALLOWALL
	23: {24, 0},   // CMDDENY
	24: {24, 0},   // CMDDENYALL
	25: {20, 0},   // ACCHECK: IPAddr
	26: {20, 0},   // CMDACCHECK
	27: {-1, 0},   // ADD_SERVER
	28: {-1, 0},   // ADD_PEER
	29: {20, 0},   // DEL_SOURCE
	30: {0, 0},    // WRITERTC
	31: {4, 0},    // DFREQ
	32: {-1, 0},   // DOFFSET
	33: {0, 76},   // TRACKING; RPY_Tracking
	34: {4, 56},   // SOURCESTATS: index; RPY_Sourcestats
	35: {0, 28},   // RTCREPORT; RPY_Rtc
	36: {0, 0},    // TRIMRTC
	37: {0, 0},    // CYCLELOGS
	38: {-1, 0},   // SUBNETS_ACCESSED
	39: {-1, 0},   // CLIENT_ACCESSES
	40: {-1, 0},   // CLIENT_ACCESSES_BY_INDEX
	41: {0, 388},  // MANUAL_LIST; RPY_ManualList
	42: {4, 0},    // MANUAL_DELETE
	43: {0, 0},    // MAKESTEP
	44: {0, 20},   // ACTIVITY; RPY_Activity
	45: {24, 0},   // MODIFY_MINSTRATUM
	46: {24, 0},   // MODIFY_POLLTARGET
	47: {24, 0},   // MODIFY_MAXDELAYDEVRATIO
	48: {0, 0},    // RESELECT
	49: {4, 0},    // RESELECTDISTANCE
	50: {8, 0},    // MODIFY_MAKESTEP
	51: {0, 24},   // SMOOTHING; RPY_Smoothing
	52: {4, 0},    // SMOOTHTIME
	53: {0, 0},    // REFRESH
	54: {0, 44},   // SERVER_STATS; RPY_ServerStats
	55: {-1, 0},   // CLIENT_ACCESSES_BY_INDEX2
	56: {16, 0},   // LOCAL2
	57: {20, 124}, // NTP_DATA: IPAddr; RPY_NTPData
	58: {-1, 0},   // ADD_SERVER2
	59: {-1, 0},   // ADD_PEER2
	60: {-1, 0},   // ADD_SERVER3
	61: {-1, 0},   // ADD_PEER3
	62: {0, 0},    // SHUTDOWN
	63: {0, 0},    // ONOFFLINE
	64: {352, 0},  // ADD_SOURCE: REQ_NTP_Source
	65: {20, 256}, // NTP_SOURCE_NAME: IPAddr; name[256]
	66: {0, 0},    // RESET_SOURCES
	67: {20, 24},  // AUTH_DATA: IPAddr; RPY_AuthData
	68: {16, 492}, // CLIENT_ACCESSES_BY_INDEX3; 3 counts and 8 clients of 60
	69: {4, 48},   // SELECT_DATA: index; RPY_SelectData
	70: {0, 0},    // RELOAD_SOURCES
	71: {4, 0},    // DOFFSET2: Float
}

// RequestLen is PKL_CommandLength for version 6: how long a request of
// type cmd must be, its padding included, or 0 for a type chrony 4.3
// does not accept.
func RequestLen(cmd int) int {
	if cmd < 0 || cmd >= numRequestTypes || requestData[cmd].req < 0 {
		return 0
	}
	d := requestData[cmd]
	return requestHeaderLen + max(d.req, d.rpy+replyHeaderLen-requestHeaderLen)
}

// replyLen is PKL_ReplyLength: the length of a reply carrying data of
// n bytes.
func replyLen(n int) int { return replyHeaderLen + n }
