/* SPDX-License-Identifier: MIT */
/* Timer target: an armed periodic timer (make_armed) and a disarmed one
 * (make_idle) left, one deleted (make_deleted: never reported); with an
 * argument, both left ones are deleted too. */
#include <signal.h>
#include <time.h>
#include <stdio.h>
__attribute__((noinline)) static timer_t make_armed(void){ timer_t t; struct sigevent ev = {0}; ev.sigev_notify = SIGEV_NONE; timer_create(CLOCK_MONOTONIC, &ev, &t); struct itimerspec its = {{1,0},{100,0}}; timer_settime(t, 0, &its, NULL); return t; }
__attribute__((noinline)) static timer_t make_idle(void){ timer_t t; struct sigevent ev = {0}; ev.sigev_notify = SIGEV_NONE; timer_create(CLOCK_REALTIME, &ev, &t); return t; }
__attribute__((noinline)) static void make_deleted(void){ timer_t t; struct sigevent ev = {0}; ev.sigev_notify = SIGEV_NONE; timer_create(CLOCK_REALTIME, &ev, &t); timer_delete(t); }
int main(int argc, char **argv){ timer_t a = make_armed(), b = make_idle(); make_deleted(); if (argc > 1) { timer_delete(a); timer_delete(b); } puts("ok"); return 0; }
