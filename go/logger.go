package deepidv

/*
#include <stdint.h>
#include <stdlib.h>
#include "deepidv.h"
*/
import "C"

import (
	"sync"
	"unsafe"
)

// The loggers of live clients, by handle: C holds only the handle (in C memory), never a Go pointer.
var loggers = struct {
	sync.RWMutex
	next uintptr
	m    map[uintptr]func(level, msg string)
}{m: map[uintptr]func(level, msg string){}}

// registerLogger keeps log until unregisterLogger, and returns C memory holding its handle, for the
// library's user_data.
func registerLogger(log func(level, msg string)) unsafe.Pointer {
	loggers.Lock()
	loggers.next++
	h := loggers.next
	loggers.m[h] = log
	loggers.Unlock()
	p := C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0))))
	*(*C.uintptr_t)(p) = C.uintptr_t(h)
	return p
}

// unregisterLogger forgets the logger of user_data and frees it; call it only once no call can log.
func unregisterLogger(p unsafe.Pointer) {
	if p == nil {
		return
	}
	loggers.Lock()
	delete(loggers.m, uintptr(*(*C.uintptr_t)(p)))
	loggers.Unlock()
	C.free(p)
}

func levelName(level C.deepidv_log_level) string {
	switch level {
	case C.DEEPIDV_LOG_DEBUG:
		return "debug"
	case C.DEEPIDV_LOG_INFO:
		return "info"
	default:
		return "warn"
	}
}

//export deepidvGoLog
func deepidvGoLog(level C.deepidv_log_level, msg *C.char, user unsafe.Pointer) {
	loggers.RLock()
	log := loggers.m[uintptr(*(*C.uintptr_t)(user))]
	loggers.RUnlock()
	if log != nil {
		log(levelName(level), C.GoString(msg))
	}
}
