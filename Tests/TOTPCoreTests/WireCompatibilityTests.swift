import Testing
import pam_totpd

@testable import TOTPCore

/// The PAM module's totpd_wire.h and the daemon's WireConstants.swift must agree on every number.
@Suite struct WireCompatibilityTests {
    @Test func limitsAndVersionAgree() {
        #expect(Int(TOTPD_PROTOCOL_VERSION) == Int(WireProtocol.version))
        #expect(Int(TOTPD_MAX_REQUEST_BODY) == WireProtocol.maxRequestBody)
        #expect(Int(TOTPD_MAX_RESPONSE_BODY) == WireProtocol.maxResponseBody)
        #expect(Int(TOTPD_CODE_MIN_DIGITS) == OTPParameters.digitRange.lowerBound)
        #expect(Int(TOTPD_CODE_MAX_DIGITS) == OTPParameters.digitRange.upperBound)
    }

    @Test func operationsAgree() {
        let c: [Operation: Int] = [
            .verify: Int(TOTPD_OP_VERIFY), .enrollBegin: Int(TOTPD_OP_ENROLL_BEGIN),
            .enrollConfirm: Int(TOTPD_OP_ENROLL_CONFIRM), .status: Int(TOTPD_OP_STATUS), .list: Int(TOTPD_OP_LIST),
            .revoke: Int(TOTPD_OP_REVOKE),
        ]
        #expect(c.count == Operation.allCases.count)
        for operation in Operation.allCases { #expect(c[operation] == Int(operation.rawValue), "\(operation)") }
    }

    @Test func resultsAgree() {
        let c: [ResultCode: Int] = [
            .ok: Int(TOTPD_RESULT_OK), .rejected: Int(TOTPD_RESULT_REJECTED),
            .notEnrolled: Int(TOTPD_RESULT_NOT_ENROLLED), .locked: Int(TOTPD_RESULT_LOCKED),
            .denied: Int(TOTPD_RESULT_DENIED), .badRequest: Int(TOTPD_RESULT_BAD_REQUEST),
            .unsupportedVersion: Int(TOTPD_RESULT_UNSUPPORTED_VERSION), .unknownUser: Int(TOTPD_RESULT_UNKNOWN_USER),
            .internalError: Int(TOTPD_RESULT_INTERNAL_ERROR),
        ]
        #expect(c.count == ResultCode.allCases.count)
        for result in ResultCode.allCases { #expect(c[result] == Int(result.rawValue), "\(result)") }
    }

    @Test func tagsAndLengthsAgree() {
        let c: [FieldTag: (tag: Int, maxLength: Int)] = [
            .user: (Int(TOTPD_TAG_USER), Int(TOTPD_MAXLEN_USER)),
            .code: (Int(TOTPD_TAG_CODE), Int(TOTPD_MAXLEN_CODE)),
            .service: (Int(TOTPD_TAG_SERVICE), Int(TOTPD_MAXLEN_SERVICE)),
            .rhost: (Int(TOTPD_TAG_RHOST), Int(TOTPD_MAXLEN_RHOST)),
            .tty: (Int(TOTPD_TAG_TTY), Int(TOTPD_MAXLEN_TTY)),
            .message: (Int(TOTPD_TAG_MESSAGE), Int(TOTPD_MAXLEN_MESSAGE)),
            .secret: (Int(TOTPD_TAG_SECRET), Int(TOTPD_MAXLEN_SECRET)),
            .uri: (Int(TOTPD_TAG_URI), Int(TOTPD_MAXLEN_URI)),
            .expiresAt: (Int(TOTPD_TAG_EXPIRES_AT), Int(TOTPD_MAXLEN_EXPIRES_AT)),
            .state: (Int(TOTPD_TAG_STATE), Int(TOTPD_MAXLEN_STATE)),
            .retryAfter: (Int(TOTPD_TAG_RETRY_AFTER), Int(TOTPD_MAXLEN_RETRY_AFTER)),
            .failures: (Int(TOTPD_TAG_FAILURES), Int(TOTPD_MAXLEN_FAILURES)),
            .activatedAt: (Int(TOTPD_TAG_ACTIVATED_AT), Int(TOTPD_MAXLEN_ACTIVATED_AT)),
            .lastSuccessAt: (Int(TOTPD_TAG_LAST_SUCCESS_AT), Int(TOTPD_MAXLEN_LAST_SUCCESS_AT)),
            .record: (Int(TOTPD_TAG_RECORD), Int(TOTPD_MAXLEN_RECORD)),
        ]
        #expect(c.count == FieldTag.allCases.count)
        for tag in FieldTag.allCases {
            #expect(c[tag]?.tag == Int(tag.rawValue), "\(tag)")
            #expect(c[tag]?.maxLength == tag.maxLength, "\(tag)")
        }
    }
}
