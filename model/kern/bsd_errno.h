// bsd_errno.h - FreeBSD's errno values (sys/sys/errno.h), which the model's
// syscalls and kevent() EV_ERROR entries return. They differ from Linux's
// (EAGAIN is 35 on FreeBSD, 11 on Linux), so the model never uses <errno.h>
// constants for its own results. The names carry a k prefix because <errno.h>
// defines the bare names as macros; errno_name() gives the bare name back.
#pragma once

namespace kqsim::bsd {

inline constexpr int kEPERM = 1;
inline constexpr int kENOENT = 2;
inline constexpr int kESRCH = 3;
inline constexpr int kEINTR = 4;
inline constexpr int kEIO = 5;
inline constexpr int kENXIO = 6;
inline constexpr int kEBADF = 9;
inline constexpr int kECHILD = 10;
inline constexpr int kEDEADLK = 11;
inline constexpr int kENOMEM = 12;
inline constexpr int kEACCES = 13;
inline constexpr int kEFAULT = 14;
inline constexpr int kEBUSY = 16;
inline constexpr int kEEXIST = 17;
inline constexpr int kENODEV = 19;
inline constexpr int kEINVAL = 22;
inline constexpr int kENFILE = 23;
inline constexpr int kEMFILE = 24;
inline constexpr int kEFBIG = 27;
inline constexpr int kENOSPC = 28;
inline constexpr int kESPIPE = 29;
inline constexpr int kEPIPE = 32;
inline constexpr int kERANGE = 34;
inline constexpr int kEAGAIN = 35;
inline constexpr int kEWOULDBLOCK = kEAGAIN;
inline constexpr int kEINPROGRESS = 36;
inline constexpr int kEALREADY = 37;
inline constexpr int kENOTSOCK = 38;
inline constexpr int kEDESTADDRREQ = 39;
inline constexpr int kEMSGSIZE = 40;
inline constexpr int kEPROTOTYPE = 41;
inline constexpr int kENOPROTOOPT = 42;
inline constexpr int kEPROTONOSUPPORT = 43;
inline constexpr int kEOPNOTSUPP = 45;
inline constexpr int kEAFNOSUPPORT = 47;
inline constexpr int kEADDRINUSE = 48;
inline constexpr int kEADDRNOTAVAIL = 49;
inline constexpr int kENETDOWN = 50;
inline constexpr int kECONNABORTED = 53;
inline constexpr int kECONNRESET = 54;
inline constexpr int kENOBUFS = 55;
inline constexpr int kEISCONN = 56;
inline constexpr int kENOTCONN = 57;
inline constexpr int kETIMEDOUT = 60;
inline constexpr int kECONNREFUSED = 61;
inline constexpr int kENOSYS = 78;
// Kernel-internal pseudo errors (sys/errno.h, _KERNEL).
inline constexpr int kERESTART = -1;
inline constexpr int kEJUSTRETURN = -2;

// "EBADF" for 9, etc.; nullptr for values not listed.
constexpr const char* errno_name(int e) {
  switch (e) {
    case kEPERM: return "EPERM";
    case kENOENT: return "ENOENT";
    case kESRCH: return "ESRCH";
    case kEINTR: return "EINTR";
    case kEIO: return "EIO";
    case kENXIO: return "ENXIO";
    case kEBADF: return "EBADF";
    case kECHILD: return "ECHILD";
    case kEDEADLK: return "EDEADLK";
    case kENOMEM: return "ENOMEM";
    case kEACCES: return "EACCES";
    case kEFAULT: return "EFAULT";
    case kEBUSY: return "EBUSY";
    case kEEXIST: return "EEXIST";
    case kENODEV: return "ENODEV";
    case kEINVAL: return "EINVAL";
    case kENFILE: return "ENFILE";
    case kEMFILE: return "EMFILE";
    case kEFBIG: return "EFBIG";
    case kENOSPC: return "ENOSPC";
    case kESPIPE: return "ESPIPE";
    case kEPIPE: return "EPIPE";
    case kERANGE: return "ERANGE";
    case kEAGAIN: return "EAGAIN";
    case kEINPROGRESS: return "EINPROGRESS";
    case kEALREADY: return "EALREADY";
    case kENOTSOCK: return "ENOTSOCK";
    case kEDESTADDRREQ: return "EDESTADDRREQ";
    case kEMSGSIZE: return "EMSGSIZE";
    case kEPROTOTYPE: return "EPROTOTYPE";
    case kENOPROTOOPT: return "ENOPROTOOPT";
    case kEPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case kEOPNOTSUPP: return "EOPNOTSUPP";
    case kEAFNOSUPPORT: return "EAFNOSUPPORT";
    case kEADDRINUSE: return "EADDRINUSE";
    case kEADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case kENETDOWN: return "ENETDOWN";
    case kECONNABORTED: return "ECONNABORTED";
    case kECONNRESET: return "ECONNRESET";
    case kENOBUFS: return "ENOBUFS";
    case kEISCONN: return "EISCONN";
    case kENOTCONN: return "ENOTCONN";
    case kETIMEDOUT: return "ETIMEDOUT";
    case kECONNREFUSED: return "ECONNREFUSED";
    case kENOSYS: return "ENOSYS";
    case kERESTART: return "ERESTART";
    case kEJUSTRETURN: return "EJUSTRETURN";
    default: return nullptr;
  }
}

}  // namespace kqsim::bsd
