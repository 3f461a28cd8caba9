# ethox-uk runtime: default frozen modules.  The image pipeline passes its
# own manifest (stack, virtio/, asyncio, the recipe's app) as FROZEN_MANIFEST.
include("$(MPY_DIR)/extmod/asyncio")
