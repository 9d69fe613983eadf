/*
 * host.c - a "widget monitor" application: a poller thread opens the
 * widget through its device interface and polls IOCTL_WIDGET_STATUS until
 * told to quit, while the main thread plays the user who ejects the
 * widget (CM_Request_Device_Eject). The first eject is vetoed for the
 * poller's open handle, as Windows does (PNP_VetoOutstandingOpen); the
 * main thread then stops the poller and ejects again.
 * Planted fault: the poller's quit path returns from the thread without
 * closing its handle, so the second eject is vetoed too and rtwidget.so
 * never unloads.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../common/rthost.h"

#define IOCTL_WIDGET_STATUS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define WIDGET_INSTANCE "ROOT\\RTWIDGET\\0000"
#define WIDGET_LINK "\\??\\ROOT#RTWIDGET#0000#{6c1c2e3a-0b57-4f4e-9d1b-5a3c7e2f9a10}"

typedef struct _POLLER {
    pthread_mutex_t Lock;
    pthread_cond_t Changed;
    int Opened;      /* 1 once the handle is open, -1 when the open failed */
    int Quit;        /* set by the main thread */
    ULONG Polls;
} POLLER;

static void *PollerMain(void *Arg)
{
    POLLER *p = Arg;
    HANDLE widget;
    NTSTATUS status = NtsimOpenFile(WIDGET_LINK, GENERIC_READ | GENERIC_WRITE, &widget);
    pthread_mutex_lock(&p->Lock);
    p->Opened = NT_SUCCESS(status) ? 1 : -1;
    pthread_cond_broadcast(&p->Changed);
    pthread_mutex_unlock(&p->Lock);
    if (!NT_SUCCESS(status))
        return NULL;
    for (;;) {
        ULONG requests = 0;
        pthread_mutex_lock(&p->Lock);
        if (p->Quit) {
            pthread_mutex_unlock(&p->Lock);
            return NULL; /* BUG: leaves without NtsimCloseHandle(widget) */
        }
        pthread_mutex_unlock(&p->Lock);
        if (!NT_SUCCESS(NtsimDeviceIoControl(widget, IOCTL_WIDGET_STATUS, NULL, 0, &requests, sizeof requests, NULL)))
            break;
        pthread_mutex_lock(&p->Lock);
        p->Polls++;
        pthread_cond_broadcast(&p->Changed);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 2 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        if (!p->Quit)
            pthread_cond_timedwait(&p->Changed, &p->Lock, &until);
        pthread_mutex_unlock(&p->Lock);
    }
    NtsimCloseHandle(widget);
    return NULL;
}

int main(int argc, char **argv)
{
    POLLER poller = { .Lock = PTHREAD_MUTEX_INITIALIZER, .Changed = PTHREAD_COND_INITIALIZER };
    pthread_t thread;
    NTSIM_VETO veto;
    RT_CHECK(argc == 2, "usage: host IMAGE-ROOT");
    RT_STATUS(NtsimInitialize(NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimInstallService("rtwidget", RtImagePath(argv[1], "common/rtwidget.so")), STATUS_SUCCESS);
    RT_STATUS(NtsimDefineHardware("RTWIDGET", "rtwidget", NULL, NULL), STATUS_SUCCESS);
    RT_STATUS(NtsimPlugDevice("RTWIDGET", WIDGET_INSTANCE), STATUS_SUCCESS);

    RT_CHECK(pthread_create(&thread, NULL, PollerMain, &poller) == 0, "the poller thread starts");
    pthread_mutex_lock(&poller.Lock);
    while (poller.Opened == 0 || (poller.Opened == 1 && poller.Polls < 3))
        pthread_cond_wait(&poller.Changed, &poller.Lock);
    pthread_mutex_unlock(&poller.Lock);
    RT_CHECK(poller.Opened == 1, "the poller opened the widget");

    /* the user ejects the widget while the poller runs: vetoed for its handle */
    memset(&veto, 0, sizeof veto);
    RT_STATUS(NtsimEjectDevice(WIDGET_INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    RT_CHECK(veto.VetoType == PNP_VetoOutstandingOpen, "vetoed for an outstanding open");

    /* stop the poller, then eject again */
    pthread_mutex_lock(&poller.Lock);
    poller.Quit = 1;
    pthread_cond_broadcast(&poller.Changed);
    pthread_mutex_unlock(&poller.Lock);
    pthread_join(thread, NULL);
    memset(&veto, 0, sizeof veto);
    RT_STATUS(NtsimEjectDevice(WIDGET_INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    RT_CHECK(veto.VetoType == PNP_VetoOutstandingOpen, "still vetoed: the poller's handle was never closed");

    NTSIM_IMAGE_INFO info;
    RT_STATUS(NtsimQueryImage("rtwidget", &info), STATUS_SUCCESS);
    RT_CHECK(info.Mapped && !info.UnloadCalled, "rtwidget stays loaded");
    return 0;
}
