/* Test-prefix shim for wine 8.0, which lacks bcryptprimitives.dll: Rust's
 * standard library (1.78+) imports ProcessPrng from it. Windows 10+ ships the
 * real DLL; this one only exists in the CI's throwaway wine prefix.
 * Built by .ci/windows with: x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll
 * bcryptprimitives.c -ladvapi32 */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
