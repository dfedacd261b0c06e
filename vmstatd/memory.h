/* Memory that starting (or reloading) used and will not use again, given back once. */
#ifndef VMSTATD_MEMORY_H
#define VMSTATD_MEMORY_H

/* Called when the VMs are launched: after start and after a reload. */
void vs_memory_give_back(void);

#endif
